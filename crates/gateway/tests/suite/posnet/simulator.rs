//! The PosNet client against the PosNet simulator over real HTTP.
