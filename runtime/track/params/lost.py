"""The lost state shared by every Siamese variant (``SiameseTracker``: confidence = peak / running reference)."""
from __future__ import annotations


def parameters():
    from ..siamese_base import LostParams

    return LostParams(
        lost_below=0.5,              # confidence (peak / reference) under which the target is lost
        found_above=0.7,             # confidence needed to re-acquire while lost (hysteresis)
        reference_lr=0.1,            # running average of confident peaks
        reference_init=0.55,         # × the init peak starts the reference (it overstates later ones, ~2×)
        redetect_tiles=2,            # extra ring crops searched per frame while lost
        redetect_ring=0.75,          # ring radius, in search-crop sides
    )
