"""Hardware layer: motor buses, robots, teleoperators, cameras and their simulators (never imports prefect).

Tour:

* :mod:`hardware.base` — ABCs (``MotorBus``, ``Camera``, ``Robot``, ``Teleoperator``), ``requires_connection``,
  ``dataset_features`` (device features -> ``observation.state`` / ``action`` dataset features).
* :mod:`hardware.config` — typed device configs chosen by ``type`` (``so101_follower``, ``koch_leader``,
  ``openk-1-alpha_follower``, ``custom_follower``, ``sim-so101``, ``keyboard`` …), ``load_device_config``;
  bundled YAML in ``hardware/configs/``.
* :mod:`hardware.factory` — ``make_robot`` / ``make_teleoperator`` / ``make_device``.
* :mod:`hardware.bus` — codecs (``feetech``, ``dynamixel``, ``damiao``), ``SerialMotorBus``, ``DamiaoBus``.
* :mod:`hardware.calibration` — LeRobot-compatible calibration files and normalisation.
* :mod:`hardware.sim` — byte-level simulators, hosted on ptys in a child process (``SimulatorProcess``) or
  in-process behind ``stsim://<preset>`` pyserial URLs.
* :mod:`hardware.robots` — ``ArmRobot`` / ``ArmLeader`` (any arm config), calibration procedure, keyboard.
"""
