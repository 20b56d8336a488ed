"""robopipe core library: the LeRobotDataset v3.0 format, statistics, validation, editing,
conversion and publishing. Prefect-free and Dask-distributed-free by design (see ARCHITECTURE)."""

__version__ = "0.1.0"
