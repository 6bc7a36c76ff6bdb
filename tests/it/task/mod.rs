//! Task groups and what is built on them.

mod catch_panic;
mod cleanup;
mod fairness;
mod gather;
mod group;
mod model;
mod promise;
mod run;
mod seeded;
mod tree;
