"""The platform (搭建平台): notifications, the bulletin, study (四个一), profiles."""
