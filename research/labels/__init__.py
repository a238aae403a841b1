"""What a label is and where labels come from: the codebook, gold annotation (import,
export, agreement), weak labels from the codebook's dictionary, and label metrics."""
