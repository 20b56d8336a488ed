"""Byte-level device simulators: servo buses (Feetech, Dynamixel) and the DAMIAO USB-to-CAN bridge.

The cores are pure and time-injectable (``handle(data, now)``); hosts put them on a pty in another process
(:mod:`hardware.sim.pty_host`) or behind a pyserial URL (``stsim://<preset>``, :mod:`hardware.sim.urlhandler`).
"""
