"""Ivan's memory of a user, shared by every platform: rolling summary + long-term facts.

- `retrieval`: what goes into the prompt (summary, BM25-relevant facts);
- `extraction`: facts stated in a message (rules now; the LLM in Celery when a capable model is set);
- `upkeep`: storing facts, the summary, forgetting.
"""

from chat.memory.extraction import (
    LLM_EXTRACTION_PROMPT,
    ExtractedFact,
    extract_facts,
    llm_extraction_enabled,
    parse_llm_facts,
)
from chat.memory.retrieval import memory_for_prompt, relevant_facts, tokenize
from chat.memory.upkeep import (
    memory_delete_all,
    memory_extract_with_llm,
    memory_fact_delete,
    memory_fact_record,
    memory_list,
    memory_summarize,
    remember,
    summary_due,
)

__all__ = [
    "LLM_EXTRACTION_PROMPT",
    "ExtractedFact",
    "extract_facts",
    "llm_extraction_enabled",
    "memory_delete_all",
    "memory_extract_with_llm",
    "memory_fact_delete",
    "memory_fact_record",
    "memory_for_prompt",
    "memory_list",
    "memory_summarize",
    "parse_llm_facts",
    "relevant_facts",
    "remember",
    "summary_due",
    "tokenize",
]
