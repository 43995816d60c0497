/** ToST (RobinWu218/ToST): token-statistics self-attention, linear in the number of tokens. */
package ai.crate.model.tost;
