//! The Garanti BBVA client against its golden vectors, its recorded answers, and a tiny
//! in-test bank on loopback that answers with those recorded answers.
//!
//! These pin the protocol facts (hashes, exact request bytes, answer mapping, callback
//! judging, what each call sends); [`simulator`] runs the client against the Garanti
//! simulator over real HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod answers;

mod callbacks;

mod calls;

mod helpers;

mod simulator;

mod vectors;
