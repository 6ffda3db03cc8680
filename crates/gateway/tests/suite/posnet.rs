//! The Yapı Kredi PosNet client against its golden vectors and recorded answers
//! ([`vectors`]), and against the PosNet simulator over real HTTP ([`simulator`]).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod simulator;

mod vectors;
