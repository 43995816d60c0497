/**
 * Generic layers and the parts every model of the family is assembled from: {@link ai.crate.model.nn.Module} (named
 * parameters under official keys), {@link ai.crate.model.nn.Linear}, {@link ai.crate.model.nn.LayerNorm}, the stems
 * ({@link ai.crate.model.nn.PatchEmbed}, {@link ai.crate.model.nn.ConvPatchEmbed}), positions, the class token, the
 * block structure ({@link ai.crate.model.nn.Block} of a {@link ai.crate.model.nn.TokenMixer} and a
 * {@link ai.crate.model.nn.FeatureMap}), the classifier head, and {@link ai.crate.model.nn.Taps} (what a forward pass
 * is asked to keep). Nothing here is specific to one architecture.
 */
package ai.crate.model.nn;
