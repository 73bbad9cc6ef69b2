"""The monitor: a small self-hosted service that takes production traffic, scores it in windows
with the suite's checks and gates, alerts, and exports the hard cases for the next fine-tune."""
