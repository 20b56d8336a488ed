"""CLI command groups. Each module defines ``register(app)`` adding its commands to the root app.

Modules import heavy libraries (prefect, dask, tensorflow, great_expectations) inside the command
functions, so ``robopipe --help`` stays fast.
"""

COMMAND_MODULES = (
    "flows.commands.dataset",  # info
    "flows.commands.stats",  # stats
    "flows.commands.validate",  # validate, report
    "flows.commands.quality",  # quality, view, filter
    "flows.commands.edit",  # merge, delete-episodes, split, remove-feature, rename-feature, set-task
    "flows.commands.convert",  # convert rlds|hdf5|folder|v21
    "flows.commands.convert_logs",  # convert ros|mcap|zarr
    "flows.commands.publish",  # publish, history, download
    "flows.commands.versions",  # tag, card
    "flows.commands.hardware",  # find-port, calibrate
    "flows.commands.record",  # find-cameras, record, replay
    "flows.commands.pipelines",  # ingest, port, serve, demo
    "flows.commands.campaign",  # campaign
)
