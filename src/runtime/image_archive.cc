// Tar reading for image archives.
