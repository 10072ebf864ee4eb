"""rasa-sdk custom actions, one module per feature; the action server also serves /nlg."""
