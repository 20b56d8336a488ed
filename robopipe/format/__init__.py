"""The LeRobotDataset v3.0 format: layout, typed metadata models, reader, writer and video I/O."""
