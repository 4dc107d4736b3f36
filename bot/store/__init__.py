"""Storage: SQLAlchemy models, the engine and the queries. The only module that speaks SQL."""
