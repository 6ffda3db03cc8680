//! The Garanti BBVA client against its golden vectors, its recorded answers, and a tiny
//! in-test bank on loopback that answers with those recorded answers.
//!
//! The full client-against-simulator tests live beside the simulator; these pin the
//! protocol facts: hashes, exact request bytes, answer mapping, callback judging, and
//! what each call sends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod answers;

mod callbacks;

mod calls;

mod helpers;

mod vectors;
