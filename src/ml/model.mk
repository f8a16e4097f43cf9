# ml: models (owned by the model work)
