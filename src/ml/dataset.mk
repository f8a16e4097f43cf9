# ml: datasets and partitioners (owned by the dataset work)
