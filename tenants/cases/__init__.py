"""Cases (*casussen*): from the weighing that opens one to its closure and reviews after closure."""
