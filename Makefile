.PHONY: lint format test demo
PY := .venv/bin

lint:
	$(PY)/ruff check .
	$(PY)/ruff format --check .
	$(PY)/mypy

format:
	$(PY)/ruff check --fix .
	$(PY)/ruff format .

test:
	scripts/test.sh

demo:
	scripts/demo.sh
