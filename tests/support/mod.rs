//! Test support shared by the end-to-end tests: the stateful fake GitHub, the OpenAPI request
//! validator, the real registry harness, and `World`, which wires them to a running baton.
#![allow(dead_code)]

pub mod fake_github;
pub mod flux_artifacts;
pub mod openapi;
pub mod process;
pub mod registry;
pub mod signing;
pub mod world;
