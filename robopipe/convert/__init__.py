"""Conversion of other formats to LeRobotDataset v3.0 (core layer).

* :mod:`~robopipe.convert.source` — ``SourceReader`` port, ``SourceEpisode``, ``SourceSpec``, ``open_reader``.
* readers: :mod:`~robopipe.convert.rlds` (TFDS RLDS; the only module importing TensorFlow, lazily),
  :mod:`~robopipe.convert.hdf5` (ALOHA/ACT, robomimic/LIBERO), :mod:`~robopipe.convert.folder`
  (image folders + CSV/parquet/NPZ, Python hooks).
* :mod:`~robopipe.convert.mapping` (+ built-ins in ``mappings/*.yaml``), :mod:`~robopipe.convert.infer`,
  :mod:`~robopipe.convert.apply` — which source keys become which features, and how.
* :mod:`~robopipe.convert.engine` — ``ConvertRequest``, shard planning, ``convert_shard`` (idempotent,
  completion markers), ``merge_shards``, ``run_conversion`` (the convert recipe, on any executor).
* :mod:`~robopipe.convert.v21` — LeRobot v2.1 -> v3.0 with stream-copied video
  (:mod:`~robopipe.convert.assemble`).
"""
