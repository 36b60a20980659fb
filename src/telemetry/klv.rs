//! KLV (SMPTE ST 336) building blocks: BER lengths, BER-OID tags, the
//! 16-bit running checksum of MISB ST 0601, and the universal keys.
