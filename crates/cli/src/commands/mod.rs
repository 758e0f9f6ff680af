pub mod backends;
pub mod bench;
pub mod check;
pub mod generate;
pub mod info;
pub mod score;
pub mod synth;
pub mod tokenize;
