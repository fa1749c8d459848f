"""Active learning with CP2K in the loop (``mldyn explore``): fit, explore with learned MD, label the
frames the model is least sure of with CP2K single points, refit; see :mod:`mldyn.explore.loop`."""
from .loop import ExploreConfig, explore
from .selection import frame_scores, select_frames

__all__ = ["ExploreConfig", "explore", "frame_scores", "select_frames"]
