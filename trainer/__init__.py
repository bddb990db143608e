"""The trainer: Lightning fine-tuning of BERT-family models inside the Job's pods."""
