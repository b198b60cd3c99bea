"""The product: organizations, projects and their pages, authorized from claims alone."""
