/** CRATE layers, models, presets and checkpoints on top of the engine and the autograd. */
package ai.crate.model;
