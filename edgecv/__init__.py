"""edgecv: video vision models from PyTorch to the edge.

``edgecv`` (this package) is the training side and CLI, ``edgecv.export`` turns models into verified
artifacts, ``edgecv.runtime`` runs them without torch. Importing ``edgecv`` imports nothing heavy.
"""
__version__ = "0.1.0"
