"""The retrain trigger: drift events -> policy -> one DDP retraining at a time -> gate -> models.updates."""
