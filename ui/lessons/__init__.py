"""The Lessons page's room: the catalogue by topic, a lesson's steps (Set it up, predict, Check my work), challenges."""
