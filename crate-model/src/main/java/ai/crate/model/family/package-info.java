/**
 * The model framework: {@link ai.crate.model.family.Model} and its configuration, the shared classifier skeleton
 * {@link ai.crate.model.family.ImageClassifier} with its tape-free {@link ai.crate.model.family.ClassifierInference},
 * the registry {@link ai.crate.model.family.Architectures} of every member (presets, factories, official keys,
 * parameter count, FLOPs), and {@link ai.crate.model.family.Checkpoints}, the one loader that tells the architecture
 * of a file from its metadata or keys.
 */
package ai.crate.model.family;
