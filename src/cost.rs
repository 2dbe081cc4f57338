//! Pure price math in integer minor units (never floats for money).
