"""The stages between a watch backend and the consumer: debounce, then a bounded channel."""

from fsreplica.pipeline.channel import CLOSED, Channel
from fsreplica.pipeline.debounce import Debouncer, Release

__all__ = ["CLOSED", "Channel", "Debouncer", "Release"]
