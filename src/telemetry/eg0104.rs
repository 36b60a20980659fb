//! MISB EG 0104, the Predator universal metadata set.
