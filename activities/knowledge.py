"""The knowledge base: what each closed case taught, searchable in Chinese and English.

The search vector uses PostgreSQL's `simple` configuration (no stemming, no stop words): English
words and whitespace-separated Chinese terms both match as written. Chinese is not segmented, so
a word inside a longer run of characters is found by the substring fallback instead.
"""

import asyncpg
from temporalio import activity

from crisisdesk.logs import log
from crisisdesk.models.effects import KnowledgeMatch, KnowledgeMatches, KnowledgeSaved, SaveKnowledge, SimilarKnowledge

# Any of the new case's words (OR), ranked; the same category ranks higher. Lexemes are quoted so
# that no character of a summary is read as tsquery syntax.
SIMILAR = """
WITH words AS (
    SELECT string_agg(quote_literal(word), ' | ') AS q
      FROM unnest(tsvector_to_array(to_tsvector('simple', $1))) AS word WHERE length(word) > 2
)
SELECT article_id, case_id, title,
       (ts_rank(search, to_tsquery('simple', words.q)) * CASE WHEN category = $2 THEN 1.5 ELSE 1 END)::float8 AS rank
  FROM knowledge_articles, words
 WHERE words.q IS NOT NULL AND search @@ to_tsquery('simple', words.q) AND case_id <> $4
 ORDER BY rank DESC, at DESC LIMIT $3
"""


class Knowledge:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @activity.defn(name="save_knowledge")
    async def save_knowledge(self, req: SaveKnowledge) -> KnowledgeSaved:
        async with self.pool.acquire() as conn:
            article_id = await conn.fetchval(
                """INSERT INTO knowledge_articles (key, case_id, title, body, cause, lessons, category, at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                   ON CONFLICT (key) DO NOTHING RETURNING article_id""",
                req.key, req.case_id, req.title, req.body, req.cause, req.lessons, req.category, req.at,
            )
            created = article_id is not None
            if not created:
                article_id = await conn.fetchval("SELECT article_id FROM knowledge_articles WHERE key = $1", req.key)
        if created:
            log.info("knowledge saved", case_id=req.case_id, article_id=article_id)
        return KnowledgeSaved(article_id=article_id)

    @activity.defn(name="similar_knowledge")
    async def similar_knowledge(self, req: SimilarKnowledge) -> KnowledgeMatches:
        """The articles most like a newly triaged case (PostgreSQL full-text search)."""
        rows = await self.pool.fetch(SIMILAR, req.text, req.category, req.limit, req.case_id)
        log.info("knowledge suggested", case_id=req.case_id, found=len(rows))
        return KnowledgeMatches(articles=[KnowledgeMatch(**dict(r)) for r in rows])


async def search_knowledge(pool: asyncpg.Pool, words: str, limit: int = 10) -> list[dict]:
    """Articles matching `words` (web-search syntax: "quoted phrase", -not, or), best first."""
    words = words.strip()
    if not words:
        return []
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT article_id, case_id, title, category, at, left(body, 300) AS excerpt,
                      ts_rank(search, query) AS rank
                FROM knowledge_articles, websearch_to_tsquery('simple', $1) AS query
                WHERE search @@ query
                ORDER BY rank DESC, at DESC LIMIT $2""",
            words, limit,
        )
        if not rows:  # unsegmented Chinese: a term inside a longer run of characters
            pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            rows = await conn.fetch(
                """SELECT article_id, case_id, title, category, at, left(body, 300) AS excerpt,
                          0.0::real AS rank FROM knowledge_articles
                    WHERE title ILIKE $1 OR body ILIKE $1 OR cause ILIKE $1 OR lessons ILIKE $1
                    ORDER BY at DESC LIMIT $2""",
                pattern, limit,
            )
    return [dict(r) for r in rows]
