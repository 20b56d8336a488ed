"""Arms over one or more motor buses: :class:`ArmRobot` (follower) and :class:`ArmLeader` (teleoperator).

Both are built from a :class:`~hardware.config.CustomArmConfig` (every named arm expands to one) and follow
LeRobot's connect sequence: open + handshake each bus -> load the calibration (write it to the motors when
they differ, like pressing Enter at LeRobot's prompt) -> configure (followers: with torque off, standard
settings + the arm's register writes, then torque on; leaders: torque off). Positions are ``<motor>.pos``;
DAMIAO joints also report ``.vel`` and ``.tor``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hardware.base import Camera, FeatureType, MotorBus, Robot, Teleoperator, requires_connection
from hardware.bus.damiao_bus import DamiaoBus
from hardware.bus.dynamixel import DynamixelCodec
from hardware.bus.feetech import FeetechCodec
from hardware.bus.serial_bus import SerialMotorBus
from hardware.calibration import Calibration, MotorCalibration, calibration_path, load_calibration
from hardware.config import BusConfig, CustomArmConfig
from robopipe.errors import ConfigError

logger = logging.getLogger(__name__)


def make_bus(cfg: BusConfig, port: str | None = None) -> MotorBus:
    """The bus object for a bus config (``port`` overrides the configured one)."""
    port = port or cfg.port
    if cfg.protocol == "damiao":
        return DamiaoBus(
            port,
            cfg.motors,
            baudrate=cfg.baudrate or 921_600,
            timeout_s=cfg.timeout_s,
            num_retries=cfg.num_retries,
            control_mode=cfg.damiao_control,
            kp=cfg.kp,
            kd=cfg.kd,
        )
    codec = FeetechCodec() if cfg.protocol == "feetech" else DynamixelCodec()
    return SerialMotorBus(
        port,
        cfg.motors,
        codec,
        baudrate=cfg.baudrate or 1_000_000,
        timeout_s=cfg.timeout_s,
        num_retries=cfg.num_retries,
    )


class _Arm:
    """State and connect/calibrate logic shared by followers and leaders."""

    def __init__(self, config: CustomArmConfig, cameras: dict[str, Camera] | None = None) -> None:
        self.config = config
        self.name = config.name
        self.cameras = dict(cameras or {})
        self.buses: list[MotorBus] = [make_bus(b) for b in config.buses]
        self.simulator: Any = None
        self._connected = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config.name}, id={self.config.id!r})"

    @property
    def is_connected(self) -> bool:
        return self._connected

    @property
    def motor_names(self) -> list[str]:
        return [name for bus in self.buses for name in bus.motors]

    @property
    def serial_buses(self) -> list[SerialMotorBus]:
        return [b for b in self.buses if isinstance(b, SerialMotorBus)]

    def _bus_of(self, motor: str) -> MotorBus:
        for bus in self.buses:
            if motor in bus.motors:
                return bus
        raise KeyError(f"{self} has no motor {motor!r}; motors: {self.motor_names}")

    @property
    def calibration_file(self) -> Path:
        kind = "teleoperators" if self.config.is_leader else "robots"
        return calibration_path(kind, self.config.name, self.config.id, self.config.calibration_dir)

    def _pos_features(self) -> dict[str, FeatureType]:
        features: dict[str, FeatureType] = {}
        for bus in self.buses:
            for name in bus.motors:
                features[f"{name}.pos"] = float
        return features

    # --- connection ------------------------------------------------------------------------------
    def connect(self, calibrate: bool = False) -> None:
        """Connect every bus, load/apply the calibration, then configure the motors."""
        if self._connected:
            return
        try:
            self.open_buses()
            self._load_calibration(calibrate)
            for camera in self.cameras.values():
                camera.connect()
            self.configure()
        except BaseException:
            self._teardown(disable_torque=False)
            raise
        self._connected = True
        logger.info("%s connected", self)

    def open_buses(self) -> None:
        """Start the simulator (if any) and connect + handshake every bus; no calibration, no configuration."""
        if self.config.simulator and self.simulator is None:
            self._start_simulator()
        for bus in self.buses:
            bus.connect()

    def _start_simulator(self) -> None:
        from hardware.sim.pty_host import SimulatorProcess

        self.simulator = SimulatorProcess(list(self.config.simulator or [])).start()
        self.buses = [
            make_bus(
                b, self.simulator.ports[int(b.port.split(":", 1)[1])] if b.port.startswith("sim:") else None
            )
            for b in self.config.buses
        ]

    def _load_calibration(self, calibrate: bool) -> None:
        if not self.serial_buses:
            return
        path = self.calibration_file
        calibration: Calibration | None = None
        if self.config.default_calibration is not None and not path.is_file():
            calibration = {k: MotorCalibration(**v) for k, v in self.config.default_calibration.items()}
        elif path.is_file():
            calibration = load_calibration(path)
        elif calibrate:
            from hardware.robots.calibrate import run_calibration

            run_calibration(self)
            return
        else:
            raise ConfigError(
                f"{self} has no calibration file at {path}; run `robopipe calibrate --robot-path <config.yaml>` "
                "(or copy a LeRobot calibration file there)"
            )
        self.apply_calibration(calibration)

    def apply_calibration(self, calibration: Calibration) -> None:
        """Give each serial bus its part of ``calibration``, writing it to motors that differ."""
        for bus in self.serial_buses:
            part = {name: cal for name, cal in calibration.items() if name in bus.motors}
            missing = sorted(set(bus.motors) - set(part))
            if missing:
                raise ConfigError(f"calibration of {self} ({self.calibration_file}) lacks motors {missing}")
            if bus.is_calibrated(part):
                bus.calibration = part
            else:
                logger.info("writing calibration to the motors of %s", bus)
                bus.write_calibration(part)

    def configure(self) -> None:
        """Standard motor settings + the arm's register writes; torque on for followers, off for leaders."""
        for bus in self.buses:
            if isinstance(bus, DamiaoBus):
                if not self.config.is_leader:
                    bus.enable_torque()
                continue
            if not isinstance(bus, SerialMotorBus):
                continue
            bus.disable_torque()
            bus.configure_motors()
            for write in self.config.configure:
                for name in write.motors or list(bus.motors):
                    if name in bus.motors:
                        bus.write(write.data_name, name, write.value, normalize=False)
            if not self.config.is_leader:
                bus.enable_torque()

    def disconnect(self) -> None:
        """Disconnect every bus (torque off if configured), cameras, and stop a simulator."""
        self._teardown(disable_torque=self.config.disable_torque_on_disconnect)
        logger.info("%s disconnected", self)

    def _teardown(self, disable_torque: bool) -> None:
        try:
            for bus in self.buses:
                if bus.is_connected:
                    if isinstance(bus, SerialMotorBus | DamiaoBus):
                        bus.disconnect(disable_torque=disable_torque)
                    else:
                        bus.disconnect()
            for camera in self.cameras.values():
                if camera.is_connected:
                    camera.disconnect()
        finally:
            self._connected = False
            if self.simulator is not None:
                self.simulator.stop()
                self.simulator = None

    def _read_positions(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for bus in self.buses:
            for name, value in bus.sync_read("Present_Position").items():
                out[f"{name}.pos"] = value
            if isinstance(bus, DamiaoBus):
                for name in bus.motors:  # the refresh above also brought velocity and torque
                    out[f"{name}.vel"] = bus.cached("Present_Velocity", name)
                    out[f"{name}.tor"] = bus.cached("Present_Torque", name)
        return out


class ArmRobot(_Arm, Robot):
    """A follower arm: ``get_observation()`` reads joints (and cameras), ``send_action()`` writes goals."""

    @property
    def observation_features(self) -> dict[str, FeatureType]:
        features = self._pos_features()
        for bus_cfg in self.config.buses:
            if bus_cfg.protocol == "damiao":
                for name in bus_cfg.motors:
                    features[f"{name}.vel"] = float
                    features[f"{name}.tor"] = float
        for name, camera in self.cameras.items():
            features[name] = camera.shape
        for name, cam_cfg in self.config.cameras.items():
            if name not in features and {"height", "width"} <= set(cam_cfg):
                features[name] = (int(cam_cfg["height"]), int(cam_cfg["width"]), 3)
        return features

    @property
    def action_features(self) -> dict[str, FeatureType]:
        return {f"{name}.pos": float for bus in self.config.buses for name in bus.motors}

    @requires_connection
    def get_observation(self) -> dict[str, Any]:
        obs: dict[str, Any] = self._read_positions()
        for name, camera in self.cameras.items():
            obs[name] = camera.read_latest()
        return obs

    @requires_connection
    def send_action(self, action: dict[str, float]) -> dict[str, float]:
        goals = {key.removesuffix(".pos"): float(v) for key, v in action.items() if key.endswith(".pos")}
        unknown = sorted(set(goals) - set(self.motor_names))
        if unknown:
            raise KeyError(
                f"{self} has no motors {unknown}; action keys must be among {list(self.action_features)}"
            )
        limit = self.config.max_relative_target
        if limit is not None:
            present = {
                k.removesuffix(".pos"): v for k, v in self._read_positions().items() if k.endswith(".pos")
            }
            goals = {n: min(present[n] + limit, max(present[n] - limit, g)) for n, g in goals.items()}
        for bus in self.buses:
            part = {n: g for n, g in goals.items() if n in bus.motors}
            if part:
                bus.sync_write("Goal_Position", part)
        return {f"{n}.pos": g for n, g in goals.items()}


class ArmLeader(_Arm, Teleoperator):
    """A leader arm (torque off, moved by a human): ``get_action()`` reads its joints."""

    @property
    def action_features(self) -> dict[str, FeatureType]:
        return {f"{name}.pos": float for bus in self.config.buses for name in bus.motors}

    @requires_connection
    def get_action(self) -> dict[str, float]:
        return {k: v for k, v in self._read_positions().items() if k.endswith(".pos")}
