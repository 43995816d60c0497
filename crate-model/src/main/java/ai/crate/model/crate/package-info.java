/** CRATE, the white-box classifier: MSSA ({@link ai.crate.model.crate.Mssa}) and ISTA ({@link ai.crate.model.crate.Ista}) layers, presets, registry entry. */
package ai.crate.model.crate;
