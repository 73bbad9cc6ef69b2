"""Decisions under uncertainty: selective prediction, conformal sets, calibration, operating points."""
