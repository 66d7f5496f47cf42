from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from digitalme.health import register_check
        from digitalme.metrics import install_db_query_timer, register_scrape_collector
        from ops import health, panels, scrape

        register_check("worker", health.check_worker, required=False)
        register_check("beat", health.check_beat, required=False)
        register_scrape_collector("processes", scrape.process_metrics)
        register_scrape_collector("celery_queues", scrape.celery_queue_metrics)
        register_scrape_collector("readiness", scrape.readiness_metrics)
        panels.register_core_panels()
        install_db_query_timer()
