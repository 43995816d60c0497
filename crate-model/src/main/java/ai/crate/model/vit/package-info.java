/** ViT, the baseline of every CRATE claim: timm's VisionTransformer on the family framework ({@link ai.crate.model.vit.Vit}), presets and registry entry. */
package ai.crate.model.vit;
