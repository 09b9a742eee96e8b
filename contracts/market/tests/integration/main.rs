//! Market integration tests on cw-multi-test with the real TRN token.

mod attacks;
mod disputes;
mod flows;
mod graph;
mod invariant;
mod roles;
