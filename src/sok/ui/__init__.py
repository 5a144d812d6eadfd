"""What a person uses: the terminal (`sok`), the browser app and the file route it serves originals from."""
