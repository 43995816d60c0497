/** CRATE-MAE, the masked autoencoder with a CRATE encoder and the structured-diffusion decoder; registry entry. */
package ai.crate.model.mae;
