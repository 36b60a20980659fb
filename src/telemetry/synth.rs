//! Writes KLV into MPEG-TS, to make test data.
