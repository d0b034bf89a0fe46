"""The organisation and who may do what: nodes and people, routing (lane → tier → node →
candidates), the policy, authentication, confidentiality and the audit trail."""
