"""Robots and teleoperators built from typed configs (arms over motor buses, keyboard)."""
