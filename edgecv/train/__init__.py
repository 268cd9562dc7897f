"""Training recipes that produce the shipped weights (``edgecv train NAME``)."""
