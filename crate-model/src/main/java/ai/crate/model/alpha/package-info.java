/** CRATE-α (UCSC-VLAA/CRATE-alpha): CRATE with the overcomplete sparse-coding block, the family's scaled-up member. */
package ai.crate.model.alpha;
