"""The service's routes, one APIRouter per concern: search, articles (reads, writes, admin), pages and health."""
